"""Files as hostile input, and careful output: atomic writes, bounded reads, strict JSON."""
