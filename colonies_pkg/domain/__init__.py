"""Business rules (layer L3). Every public function is a plain synchronous unit of work
`fn(tx, now, caller, ...)` run by the Database writer or a reader; time is a parameter.
No Starlette, no JSON bytes, no SQL (that lives in storage)."""
