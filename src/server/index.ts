// Curated public API of src/server (filled in as the area is built).
export {};
