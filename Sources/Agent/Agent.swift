// Agent: implementation arrives in its own files.
