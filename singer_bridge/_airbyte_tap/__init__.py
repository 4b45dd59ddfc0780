"""An Airbyte source run as a Singer tap (``singer-bridge-tap``): the other direction."""
