"""core.pause: sleep for ``max_pause`` seconds, or a random 0..max_pause when ``random``."""

import random as random_module
import time

from st2common.runners.base_action import Action

__all__ = ["PauseAction"]


class PauseAction(Action):
    def run(self, max_pause, random=False):
        delay = random_module.randint(0, int(max_pause)) if random else max_pause
        time.sleep(delay)
        return delay
