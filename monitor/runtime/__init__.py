"""What feeds a bed: the replay and live runners, each committing to the store before anything alarms or shows."""
