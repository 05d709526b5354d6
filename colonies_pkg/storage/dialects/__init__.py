"""SQL that differs between SQLite and PostgreSQL, one module per backend.

Storage modules write portable SQL (`?` placeholders, `ON CONFLICT`, `RETURNING`, CTEs) and
reach the few dialect-specific pieces through `tx.sql`, which is `sqlite` or `postgres` here:
the assignment claim, text search, and whether reads in a write unit lock their rows.
"""
