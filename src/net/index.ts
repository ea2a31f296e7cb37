// Curated public API of src/net (filled in as the area is built).
export {};
