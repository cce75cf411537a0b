// discojs (aknorw/discojs) against `musicagent mock` over HTTPS. It has no setting for the API's
// address (https://api.discogs.com is built in), so only its documented `fetchOptions` are used: an
// https.Agent whose connections to api.discogs.com go to the mock instead (any other host is refused,
// so nothing reaches the network); the mock's throwaway certificate names api.discogs.com and is
// trusted through NODE_EXTRA_CA_CERTS. Its own limiter is loosened (it paces 1 request a second).
// Prints one JSON line.
import https from 'node:https';
import tls from 'node:tls';
import { pathToFileURL } from 'node:url';

// Its package.json says "type": "module" but points `main` at a CommonJS build: load the ES build.
const { Discojs } = await import(pathToFileURL(process.env.DISCOJS_MODULE).href);
const port = Number(process.env.MOCK_PORT);

class ToTheMock extends https.Agent {
    createConnection(options, callback) {
        if (options.host !== 'api.discogs.com') throw new Error(`no network in tests: ${options.host}`);
        return tls.connect({ ...options, host: '127.0.0.1', port, servername: 'api.discogs.com' }, callback);
    }
}
const fetchOptions = { agent: new ToTheMock() };
const pace = { requestLimit: 1000, requestLimitAuth: 1000, requestLimitInterval: 1000 };
const client = new Discojs({ userToken: 'mock-token', userAgent: 'musicagent-tests/1.0', fetchOptions, ...pace });

async function failure(promise) {
    try {
        await promise;
        return null;
    } catch (error) {
        return { name: error.name, status: error.statusCode ?? null, message: error.message };
    }
}

const release = await client.getRelease(249504);
const inEuros = await client.getRelease(249504, 'EUR');  // sent as `currency=`, which Discogs ignores
const master = await client.getMaster(96559);
const versions = await client.getMasterVersions(96559);
const artist = await client.getArtist(1);
// Artist releases: it always sends sort=year&sort_order=asc; pages of 20, then its own "all" iterator.
const walked = [];
for (let page = 1, pages = 1; page <= pages; page += 1) {
    const answer = await client.getArtistReleases(1, undefined, { page, perPage: 20 });
    pages = answer.pagination.pages;
    walked.push(answer.releases.map(r => [r.id, r.year ?? null]));
}
const byTitle = await client.getArtistReleases(1, { by: 'title', order: 'desc' }, { perPage: 100 });
const labelReleases = await client.getLabelReleases(1, { perPage: 10 });
const community = await client.getCommunityReleaseRating(249504);
const stats = await client.getReleaseStats(249504);

const me = await client.getIdentity();
const profile = await client.getProfile();
await client.editProfile({ location: 'Offline' });
const edited = await client.getProfile();

const folder = await client.createFolder('From discojs');
const added = await client.addReleaseToFolder(40522, folder.id);
await client.editReleaseInstanceRating(folder.id, 40522, added.instance_id, 4);
await client.editCustomFieldForInstance(folder.id, 40522, added.instance_id, 3, 'a note');
const inFolder = await client.listItemsInFolder(folder.id);
const byRelease = await client.listItemsByRelease(40522);
await client.moveReleaseInstanceToFolder(folder.id, 40522, added.instance_id, 1);
const moved = await client.listItemsInFolder(1);
await client.deleteReleaseInstanceFromFolder(1, 40522, added.instance_id);
await client.deleteFolder(folder.id);
const goneFolder = await failure(client.getFolder(folder.id));
const folders = await client.listFolders();
const fields = await client.listCustomFields();

await client.addToWantlist(249504, 'from discojs', 3);  // notes and rating in the query string
const wants = await client.getWantlist({ perPage: 100 });
await client.removeFromWantlist(249504);
const wantsAfter = await client.getWantlist();

await client.updateReleaseRating(249504, 5);
const rating = await client.getReleaseRating(249504);

const created = await client.createListing({ releaseId: 40522, condition: 'Mint (M)', price: 10, status: 'Draft' });
await client.editListing(created.listing_id, { releaseId: 40522, condition: 'Mint (M)', price: 12, status: 'For Sale' });
const listing = await client.getListing(created.listing_id);
const inventory = await client.getInventory();  // status=All&sort=listed&sort_order=asc
await client.deleteListing(created.listing_id);
const orders = await client.listOrders();
const order = await client.getOrder('1-1');
await client.sendOrderMessage('1-1', 'On its way');
const messages = await client.listOrderMessages('1-1');
const lists = await client.getLists();

const notFound = await failure(client.getRelease(999999999));
const invalid = await failure(client.createListing({ releaseId: 40522, condition: 'Brand new', price: 10, status: 'Draft' }));
const anonymous = await failure(new Discojs({ fetchOptions, ...pace }).getIdentity());

console.log(JSON.stringify({
    release: [release.title, inEuros.title],
    master: master.title,
    versions: versions.pagination.items,
    artist: artist.name,
    walked,
    byTitle: byTitle.releases.map(r => r.title),
    labelReleases: [labelReleases.pagination.per_page, labelReleases.releases.length],
    community: community.rating.count > 0,
    stats: stats.num_have > 0,
    identity: me.username,
    location: [profile.location ?? null, edited.location],
    inFolder: inFolder.releases.map(r => [r.id, r.rating, (r.notes || []).map(n => [n.field_id, n.value])]),
    byRelease: byRelease.releases.map(r => r.folder_id),
    moved: moved.releases.filter(r => r.instance_id === added.instance_id).map(r => r.folder_id),
    goneFolder,
    folders: folders.folders.map(f => f.name),
    fields: fields.fields.length,
    wants: wants.wants.filter(w => w.id === 249504).map(w => [w.notes, w.rating]),
    wantsAfter: wantsAfter.wants.filter(w => w.id === 249504).length,
    rating: rating.rating,
    listing: [listing.price.value, listing.status],
    inventory: inventory.listings.map(l => l.id === created.listing_id),
    orders: orders.orders.map(o => o.id),
    order: order.id,
    messages: messages.messages[0].message,
    lists: lists.lists.length,
    notFound,
    invalid,
    anonymous,
}));
