"""Command groups, one module each. Commands parse, call one core function, and render."""
