"""Container networking: bridges, address management, veths, nftables and published ports."""
