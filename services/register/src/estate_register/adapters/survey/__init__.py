"""Survey adapters: the bulk SQL store behind survey import/export, and the CSV and XLSX file formats."""
