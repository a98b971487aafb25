// RoutePlanner: implementation arrives in its own files.
