"""The Diameter Routing Agent (docs/dra.md): route table, rt_pyform-compatible transforms, hooks, redirect."""
