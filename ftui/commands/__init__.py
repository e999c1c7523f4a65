"""One module per subcommand. Each defines `register(sub)` (adds its parser and sets `func`) and keeps
its imports light at module level: heavy work is imported inside the function that runs it."""
