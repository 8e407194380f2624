"""Sensor base classes with StackStorm's constructor and method names.

Squall's sensor container (a later issue) drives these; the shim only fixes their shape so pack
sensors import and instantiate.
"""

import abc
import time

__all__ = ["BaseSensor", "PollingSensor", "Sensor"]


class Sensor(abc.ABC):
    def __init__(self, sensor_service, config=None):
        self._sensor_service = sensor_service
        self.sensor_service = sensor_service
        self._config = config or {}
        self.config = self._config

    @abc.abstractmethod
    def setup(self):
        """Run once before ``run``."""

    @abc.abstractmethod
    def run(self):
        """Long-running loop that dispatches triggers through ``sensor_service``."""

    @abc.abstractmethod
    def cleanup(self):
        """Run once when the sensor stops."""

    @abc.abstractmethod
    def add_trigger(self, trigger):
        """A trigger this sensor serves was created."""

    @abc.abstractmethod
    def update_trigger(self, trigger):
        """A trigger this sensor serves was updated."""

    @abc.abstractmethod
    def remove_trigger(self, trigger):
        """A trigger this sensor serves was deleted."""


BaseSensor = Sensor  # the name some st2 versions and packs use


class PollingSensor(Sensor):
    """A sensor whose ``poll()`` the container calls every ``poll_interval`` seconds."""

    def __init__(self, sensor_service, config=None, poll_interval=5):
        super().__init__(sensor_service=sensor_service, config=config)
        self._poll_interval = poll_interval

    @abc.abstractmethod
    def poll(self):
        """Check the outside world once and dispatch triggers."""

    def run(self):
        while True:
            self.poll()
            time.sleep(self._poll_interval)

    def get_poll_interval(self):
        return self._poll_interval

    def set_poll_interval(self, poll_interval):
        self._poll_interval = poll_interval
