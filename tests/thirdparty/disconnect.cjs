// disconnect (bartve/disconnect, the most used Node Discogs client) against `musicagent mock` over
// HTTPS, unchanged: only its documented setConfig (host, port) and its auth options point it at the
// mock. Prints one JSON line.
'use strict';

const { Client } = require(process.env.DISCONNECT_MODULE);
const where = { host: process.env.MOCK_HOST, port: Number(process.env.MOCK_PORT) };

async function failure(promise) {
    try {
        await promise;
        return null;
    } catch (error) {
        return { status: error.statusCode, message: error.message };
    }
}

async function main() {
    const client = new Client('musicagent-tests/1.0', { userToken: 'mock-token' }).setConfig(where);
    const db = client.database();
    const release = await db.getRelease(249504);
    const pages = [];
    for (let page = 1; ; page++) {
        const answer = await db.getArtistReleases(1, { page, per_page: 50 });
        pages.push(answer.releases.map(r => r.id));
        if (page >= answer.pagination.pages) break;
    }
    const search = await db.search('nirvana', { type: 'release' });
    const identity = await client.getIdentity();
    const about = await client.about();
    const wantlist = client.user().wantlist();
    const added = await wantlist.addRelease(identity.username, 40522, { notes: 'from disconnect' });
    const wants = await wantlist.getReleases(identity.username, { per_page: 100 });
    const removed = await wantlist.removeRelease(identity.username, 40522);
    const after = await wantlist.getReleases(identity.username, { per_page: 100 });
    const notFound = await failure(db.getArtist(999999999));
    // A consumer key and secret (no token) are enough for search.
    const keyed = new Client('musicagent-tests/1.0', { consumerKey: 'mock-key', consumerSecret: 'mock-secret' });
    const keyedSearch = await keyed.setConfig(where).database().search('nirvana', { type: 'release', per_page: 5 });
    console.log(JSON.stringify({
        release: release.title,
        pages,
        searchTypes: [...new Set(search.results.map(r => r.type))],
        about: [about.hello, about.api_version, about.disconnect.authMethod],
        identity: identity.username,
        added: [added.id, added.notes],
        wants: wants.wants.map(w => [w.id, w.notes]),
        removed,
        after: after.wants.map(w => w.id),
        notFound,
        keyedSearch: keyedSearch.results.length,
    }));
}

main().catch(error => {
    console.error(error && error.stack ? error.stack : String(error), error && error.statusCode);
    process.exit(1);
});
