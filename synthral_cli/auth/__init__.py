"""Auth: resolving, refreshing and authorizing credentials — OAuth grants, the loopback callback
server, Nango. Takes a ``context.Context`` (settings, paths, store), never the library object."""
