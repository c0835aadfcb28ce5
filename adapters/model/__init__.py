"""What every part of Vigil passes around: readings, events and the table of vital signs."""
