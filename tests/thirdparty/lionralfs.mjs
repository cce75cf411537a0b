// @lionralfs/discogs-client against `musicagent mock` over HTTPS, unchanged: only its documented
// configuration (host, port, user agent, token) points it at the mock. Prints one JSON line.
import { pathToFileURL } from 'node:url';

const { DiscogsClient } = await import(pathToFileURL(process.env.DISCOGS_CLIENT_MODULE).href);
const client = new DiscogsClient({ userAgent: 'musicagent-tests/1.0', auth: { userToken: 'mock-token' } });
client.setConfig({ host: process.env.MOCK_HOST, port: Number(process.env.MOCK_PORT) });

const db = client.database();
const release = (await db.getRelease(249504)).data;
const pages = [];
for (let page = 1; ; page++) {
    const answer = (await db.getArtistReleases(1, { page, per_page: 50 })).data;
    pages.push(answer.releases.map(r => r.id));
    if (!answer.pagination.urls.next) break;
}
const search = (await db.search({ query: 'nirvana', type: 'release' })).data;
const identity = (await client.getIdentity()).data;
const about = (await client.about()).data;
const wantlist = client.user().wantlist();
const added = await wantlist.addRelease(identity.username, 40522, { notes: 'from node' });
const wants = (await wantlist.getReleases(identity.username)).data;
let anonymousSearch = null;
try {
    await new DiscogsClient({ userAgent: 'musicagent-tests/1.0' })
        .setConfig({ host: process.env.MOCK_HOST, port: Number(process.env.MOCK_PORT) })
        .database()
        .search({ query: 'nirvana' });
} catch (error) {
    anonymousSearch = { status: error.statusCode, message: error.message };
}
console.log(JSON.stringify({
    release: release.title,
    pages,
    searchTypes: [...new Set(search.results.map(r => r.type))],
    identity: identity.username,
    about: [about.hello, about.api_version, about.clientInfo.authMethod],
    added: added.data.id,
    wants: wants.wants.map(w => [w.id, w.notes]),
    anonymousSearch,
}));
