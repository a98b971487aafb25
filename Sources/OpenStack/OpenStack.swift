// OpenStack: implementation arrives in its own files.
