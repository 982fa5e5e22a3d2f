"""The analysts' web console (issue 22): the verdict log, the review queue,
replay and charts in a browser, served by ``anshin serve --console-listen``.

It runs in the serving process, on the same store object and through the
same use cases as the gRPC API (FindVerdicts, Reviews, ProveEntry, replay):
no second writer, every page view recorded as an ``analyst_access`` entry
as the gRPC reads are, and each page admitted by the role table of the RPC
it mirrors (server/security/roles.py). Plain HTML forms and links with
server-side SVG charts: no script at all, so the content security policy
can forbid every script (docs/analysts.md, Console).
"""
