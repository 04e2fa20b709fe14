"""The platform-neutral command core: places, settings, permissions and commands."""
