"""Workflows: flow files of steps with ``{{...}}`` interpolation, checked, previewed and run
through the actions layer."""
