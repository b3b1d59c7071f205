"""Images service (services layer): refs, import, list/inspect/tag/rmi/history/prune, rootfs."""
