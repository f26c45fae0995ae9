"""replayer — built by the replay-and-diff issue (see DESIGN.md)."""
