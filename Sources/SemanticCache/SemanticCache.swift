// The semantic cache (issue 7): embedding client, vector index, cache entries. It depends on no
// gate. Nothing is built here yet.
