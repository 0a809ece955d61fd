"""``pyhm mqtt``: the readings on an MQTT broker, for Home Assistant and for collectors."""
