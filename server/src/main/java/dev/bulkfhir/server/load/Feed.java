package dev.bulkfhir.server.load;

/** Where the file readers hand their work: chunks to the parser threads, and rejections. */
interface Feed {

    /**
     * Queues a chunk for parsing, waiting while the pipeline is full.
     *
     * @return false if the load is stopping and reading should stop too
     */
    boolean chunk(Chunk chunk) throws InterruptedException;

    void reject(Rejection rejection);
}
