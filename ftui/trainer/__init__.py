"""The training process. It runs in its own interpreter (`python -m ftui.trainer RUN_DIR`), imports
unsloth first, knows nothing of Textual, and talks to the UI only through files in the run directory."""
