// Curated public API of src/binary (filled in as the area is built).
export {};
