package org.lmcache4j.transfer;

class HostKvTransferTest extends KvTransferContract {
    @Override
    protected KvTransfer transfer() {
        return new HostKvTransfer();
    }
}
