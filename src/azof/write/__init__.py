"""The write path: conform incoming data, write data files, commit snapshots."""
