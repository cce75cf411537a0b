// @lionralfs/discogs-client beyond one release: pages followed by their `next` URL as given, page
// sizes, a filtered search, collection folders, fields and instances, the wantlist, the marketplace,
// OAuth-signed calls, the 429 with Discogs' rate-limit headers, and errors, against `musicagent mock`
// over HTTPS. Only its documented configuration points it at the mock. Prints one JSON line.
import { pathToFileURL } from 'node:url';

const { DiscogsClient } = await import(pathToFileURL(process.env.DISCOGS_CLIENT_MODULE).href);
const where = { host: process.env.MOCK_HOST, port: Number(process.env.MOCK_PORT) };
const userAgent = 'musicagent-tests/1.0';
const client = new DiscogsClient({ userAgent, auth: { userToken: 'mock-token' } }).setConfig(where);

async function failure(promise) {
    try {
        await promise;
        return null;
    } catch (error) {
        return { status: error.statusCode, message: error.message };
    }
}

const db = client.database();
const walked = [];
let answer = (await db.getArtistReleases(1, { per_page: 25 })).data;
for (;;) {
    walked.push(answer.releases.map(r => r.id));
    if (!answer.pagination.urls.next) break;
    answer = (await client.get({ url: answer.pagination.urls.next })).data;  // the URL as given
}
const whole = (await db.getArtistReleases(1, { per_page: 100 })).data;
const stockholm = (await db.search({ query: 'Stockholm', type: 'release', per_page: 2 })).data;
const user = (await client.getIdentity()).data.username;

const collection = client.user().collection();
const folders = (await collection.getFolders(user)).data.folders.map(f => [f.id, f.name]);
const fields = (await collection.getFields(user)).data.fields.map(f => f.name);
const folder = (await collection.addFolder(user, 'From lionralfs')).data;
await collection.setFolderName(user, folder.id, 'Renamed');
const added = (await collection.addRelease(user, 40522, folder.id)).data;
await collection.editRelease(user, folder.id, 40522, added.instance_id, { rating: 5 });
await collection.editInstanceNote(user, folder.id, 40522, added.instance_id, 3, 'a note');
const inFolder = (await collection.getReleases(user, folder.id)).data.releases;
const renamed = (await collection.getFolder(user, folder.id)).data;
const notEmpty = await failure(collection.deleteFolder(user, folder.id));

const wantlist = client.user().wantlist();
await wantlist.addRelease(user, 249504, { notes: 'first', rating: 2 });
await wantlist.editNotes(user, 249504, { notes: 'second' });
const wants = (await wantlist.getReleases(user, { per_page: 100 })).data.wants;
await wantlist.removeRelease(user, 249504);
const wantsAfter = (await wantlist.getReleases(user, { per_page: 100 })).data.wants;

const market = client.marketplace();
const listing = { release_id: 40522, condition: 'Very Good Plus (VG+)', price: 9, status: 'Draft' };
const created = (await market.addListing(listing)).data;
await market.editListing(created.listing_id, { ...listing, price: 8 });
const inventory = (await client.user().getInventory(user, { status: 'Draft' })).data.listings;
await market.deleteListing(created.listing_id);
const orders = (await market.getOrders()).data.orders.map(o => o.id);
const invalid = await failure(market.addListing({ ...listing, price: 'free' }));
const notFound = await failure(db.getRelease(999999999));
const otherUser = await failure(wantlist.addRelease('someone-else', 1, {}));

const signed = new DiscogsClient({
    userAgent,
    auth: { method: 'oauth', consumerKey: 'mock-key', consumerSecret: 'mock-secret', accessToken: 'an-access-token', accessTokenSecret: 'its-secret' },
}).setConfig(where);
const signedIdentity = (await signed.getIdentity()).data.username;

// A server with a window of 2 requests: the third is Discogs' 429, its headers read by the client.
const limited = new DiscogsClient({ userAgent, auth: { userToken: 'mock-token' } }).setConfig({
    host: where.host, port: Number(process.env.LIMITED_PORT), exponentialBackoffMaxRetries: 0,
});
const before = (await limited.database().getRelease(249504)).rateLimit;
await limited.database().getRelease(249504);
const tooMany = await failure(limited.database().getRelease(249504));

console.log(JSON.stringify({
    walked,
    whole: [whole.pagination.pages, whole.releases.map(r => r.id)],
    stockholm: [stockholm.pagination.per_page, stockholm.results.length, [...new Set(stockholm.results.map(r => r.type))]],
    folders,
    fields,
    folder: [renamed.name, renamed.count],
    inFolder: inFolder.map(r => [r.id, r.instance_id === added.instance_id, r.rating, (r.notes || []).map(n => [n.field_id, n.value])]),
    notEmpty,
    wants: wants.filter(w => w.id === 249504).map(w => [w.notes, w.rating]),
    wantsAfter: wantsAfter.filter(w => w.id === 249504).length,
    inventory: inventory.filter(l => l.id === created.listing_id).map(l => [l.price.value, l.condition, l.status]),
    orders,
    invalid,
    notFound,
    otherUser,
    signedIdentity,
    before,
    tooMany,
}));
