"""The window around the workspaces: main window, menus, opening, settings, status, export."""
