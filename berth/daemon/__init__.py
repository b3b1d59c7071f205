"""berthd: the daemon's services, its configuration and its composition root."""
