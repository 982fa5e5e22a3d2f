"""Who may call what: authentication, the RPC role table, rate limits.

* :mod:`server.security.roles`: the roles and the ONE table of which roles
  each RPC admits.
* :mod:`server.security.config`: the auth configuration file (hashed bearer
  tokens, client-certificate identities, rate limits per role).
* :mod:`server.security.auth`: the gate the request interceptor calls for
  every RPC (authenticate, authorize, rate-limit).
* :mod:`server.security.ratelimit`: token buckets per caller identity.
* :mod:`server.security.tls`: server credentials and the listen-address policy.
"""
