// Placeholder so the target has a source; removed when the folder has real sources.
