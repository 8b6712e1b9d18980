package org.lmcache4j.transfer;

import org.lmcache4j.PagedTestCaches;

class HostKvTransferTest extends KvTransferContract {
    @Override
    protected KvTransfer transfer(PagedTestCaches caches) {
        return new HostKvTransfer();
    }
}
