// Netlink: implementation arrives in its own files.
