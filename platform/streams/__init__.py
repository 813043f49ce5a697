"""Cameras, capture workers, snapshots, clips, health, retention and live view."""
