"""The API endpoints that hold a connection open: watches and exec.

Both outlive a request/response exchange and speak their own framing (newline-delimited watch
events with bookmarks; the channel-prefixed WebSocket frames of exec), so each has its own
module instead of a long method on the CRUD handlers. They take what they need as arguments
(the store, timings, the set of open streams the server cancels at shutdown) and answer in the
shared forms of ``simcluster.wire``.
"""
