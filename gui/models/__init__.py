"""The model manager: embedded and user models with their cards; activate, import,
export, delete (Models ▸ Manage models…)."""
