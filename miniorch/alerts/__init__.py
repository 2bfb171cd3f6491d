"""Failure notifications (DESIGN 12): facts read from the store's events, queued per receiver, POSTed.

`receivers` is the `notify:` config; `facts` (pure) says which events are facts and builds them;
`formats` (pure) makes the json and slack bodies; `retry` (pure) the backoff; `collector` turns
new events into queued deliveries; `delivery` POSTs them. Nothing here blocks a controller.
"""
