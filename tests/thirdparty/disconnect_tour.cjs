// disconnect beyond one release: pages followed by their `next` URL as given, page sizes, a filtered
// search, the collection, the wantlist, the marketplace, an image, Accept variants and OAuth-signed calls,
// against `musicagent mock` over HTTPS. Only its documented setConfig (host, port, outputFormat) points
// it at the mock. Prints one JSON line.
'use strict';

const { Client } = require(process.env.DISCONNECT_MODULE);
const where = { host: process.env.MOCK_HOST, port: Number(process.env.MOCK_PORT) };

const agent = 'musicagent-tests/1.0';

async function failure(promise) {
    try {
        await promise;
        return null;
    } catch (error) {
        return { status: error.statusCode, message: error.message };
    }
}

async function main() {
    const client = new Client(agent, { userToken: 'mock-token' }).setConfig(where);
    const db = client.database();
    // Pages of 10, each next page fetched by the URL the last one gave, unchanged.
    const walked = [];
    let answer = await db.getArtistReleases(1, { per_page: 10 });
    for (;;) {
        walked.push(answer.releases.map(r => r.id));
        if (!answer.pagination.urls.next) break;
        // disconnect takes a full URL only on port 443 (see the OAuth note below): its path and query, unchanged.
        const next = new URL(answer.pagination.urls.next);
        answer = await client.get(next.pathname + next.search);
    }
    const whole = await db.getArtistReleases(1, { per_page: 100 });
    const filtered = await db.search('Demi Lovato', { title: 'sorry not sorry' });
    const user = (await client.getIdentity()).username;

    const collection = client.user().collection();
    const folder = await collection.addFolder(user, 'From disconnect');
    const added = await collection.addRelease(user, folder.id, 40522);
    await collection.editRelease(user, folder.id, 40522, added.instance_id, { rating: 4 });
    const inFolder = await collection.getReleases(user, folder.id, {});
    const instances = await collection.getReleaseInstances(user, 40522);
    await collection.removeRelease(user, folder.id, 40522, added.instance_id);
    await collection.deleteFolder(user, folder.id);
    const goneFolder = await failure(collection.getFolder(user, folder.id));

    const wantlist = client.user().wantlist();
    await wantlist.addRelease(user, 249504, { notes: 'first' });
    await wantlist.editNotes(user, 249504, { notes: 'second', rating: 5 });
    const wants = await wantlist.getReleases(user, { per_page: 100 });

    const market = client.marketplace();
    const listing = { release_id: 40522, condition: 'Mint (M)', price: 10, status: 'Draft' };
    const created = await market.addListing(listing);
    await market.editListing(created.listing_id, { ...listing, price: 11.5, status: 'For Sale' });
    const edited = await market.getListing(created.listing_id);
    await market.deleteListing(created.listing_id);
    const deleted = await failure(market.getListing(created.listing_id));
    const invalid = await failure(market.addListing({ ...listing, condition: 'Brand new' }));
    await market.editOrder('1-1', { status: 'Shipped' });
    await market.addOrderMessage('1-1', { message: 'On its way' });
    const messages = await market.getOrderMessages('1-1', {});
    const order = await market.getOrder('1-1');

    const release = await db.getRelease(1);
    const image = await db.getImage(new URL(release.images[0].uri).pathname);
    const formats = {};
    for (const outputFormat of ['discogs', 'html', 'plaintext']) {
        const styled = new Client(agent, { userToken: 'mock-token' }).setConfig({ ...where, outputFormat });
        formats[outputFormat] = (await styled.database().getRelease(249504)).title;
    }

    // Calls signed with OAuth (PLAINTEXT, as disconnect signs). Its own OAuth steps cannot be pointed
    // at the mock: they run on a fresh client with Discogs' host, and a full URL with a port in it
    // becomes the host name "127.0.0.1:PORT" (getaddrinfo ENOTFOUND), so the flow is python3-discogs-client's test.
    const signed = new Client(agent, {
        method: 'oauth', level: 2, consumerKey: 'mock-key', consumerSecret: 'mock-secret',
        token: 'an-access-token', tokenSecret: 'its-secret',
    }).setConfig(where);
    const signedIdentity = (await signed.getIdentity()).username;
    const signedWant = await signed.user().wantlist().addRelease(user, 40522, { notes: 'signed' });

    console.log(JSON.stringify({
        walked,
        whole: [whole.pagination.pages, whole.pagination.per_page, whole.releases.map(r => r.id)],
        filtered: [...new Set(filtered.results.map(r => r.title))],
        folder: folder.name,
        inFolder: inFolder.releases.map(r => [r.id, r.instance_id, r.rating]),
        instances: instances.releases.map(r => [r.instance_id, r.folder_id]),
        added: added.instance_id,
        goneFolder,
        wants: wants.wants.filter(w => w.id === 249504).map(w => [w.notes, w.rating]),
        edited: [edited.price.value, edited.status],
        deleted,
        invalid,
        messages: messages.messages.map(m => m.message).slice(0, 1),
        order: order.status,
        image: [image.length > 100, image.charCodeAt(0), image.charCodeAt(1)],
        formats,
        oauth: [signedIdentity, signedWant.notes],
    }));
}

main().catch(error => {
    console.error(error && error.stack ? error.stack : String(error), error && error.statusCode);
    process.exit(1);
});
