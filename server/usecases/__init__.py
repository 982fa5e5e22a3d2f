"""Use cases: what Anshin does, without gRPC or SQL (docs/architecture.md)."""
