"""The python-script runner's host: a warmed fork server and the code that runs one action.

Two sides share this package, so keep the split in mind when editing:

* Inside the host process (stdlib only, relative imports only: ``bootstrap.py`` loads the
  package under a private name so Squall's own ``core`` never lands on the action's path):
  ``bootstrap``, ``server``, ``child``, ``action_service``, ``protocol``, and a pack sensor's
  process: ``sensor_child``, ``sensor_service``.
* Inside Squall (asyncio, typed against ``core``): ``client``, ``capture``, ``outcome``, and
  ``protocol`` again.
"""
