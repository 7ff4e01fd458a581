// Creates a blob container on Azurite with the Azure SDK (object_store, like the
// registry, never creates containers): node create_container.js PORT CONTAINER.
// Azurite's development account and key are public constants of the emulator.
const { BlobServiceClient, StorageSharedKeyCredential } = require("@azure/storage-blob");

const ACCOUNT = "devstoreaccount1";
const KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

(async () => {
  const [port, container] = process.argv.slice(2);
  const service = new BlobServiceClient(
    `http://127.0.0.1:${port}/${ACCOUNT}`,
    new StorageSharedKeyCredential(ACCOUNT, KEY),
  );
  await service.getContainerClient(container).create();
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
