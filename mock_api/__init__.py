"""A Flinks v3-compatible mock bank-data API served from statement-export CSVs.

Pointing the pipeline at the real Flinks is a change of configuration only, so this
package mirrors the real contract (paths, bodies, status codes, ``FlinksCode`` values)
rather than inventing a convenient one.
"""
