"""The export process (`python -m ftui.exporter RUN_DIR EXPORT_ID`): merges, converts, quantizes and
verifies in its own interpreter (it imports torch), and reports only through the export's record in the
run directory (ftui.core.exports). The model chat process (`python -m ftui.exporter.chat`) and the
held-out loss (`python -m ftui.exporter.evaluate`) live here too: everything that loads a model outside
training."""
