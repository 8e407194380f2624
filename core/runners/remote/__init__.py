"""The remote shell runners (``remote-shell-cmd``, ``remote-shell-script``) over asyncssh."""
