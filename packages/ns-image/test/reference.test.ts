import { expect } from 'chai';
import { familiarReference, formatReference, parseImageId, parseReference, withDefaultTag } from '../src/index';

/** [input, canonical with default tag, familiar] — docker's own normalization. */
const VALID: [string, string, string][] = [
  ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
  ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['index.docker.io/library/busybox:x', 'docker.io/library/busybox:x', 'busybox:x'],
  ['user/app', 'docker.io/user/app:latest', 'user/app:latest'],
  ['user/app/sub:v1', 'docker.io/user/app/sub:v1', 'user/app/sub:v1'],
  ['docker.io/library/a/b', 'docker.io/library/a/b:latest', 'library/a/b:latest'],
  ['localhost/app', 'localhost/app:latest', 'localhost/app:latest'],
  ['localhost:5000/app:1', 'localhost:5000/app:1', 'localhost:5000/app:1'],
  ['127.0.0.1:5000/a/b:c', '127.0.0.1:5000/a/b:c', '127.0.0.1:5000/a/b:c'],
  ['quay.io/coreos/etcd', 'quay.io/coreos/etcd:latest', 'quay.io/coreos/etcd:latest'],
  ['example.com:443/x', 'example.com:443/x:latest', 'example.com:443/x:latest'],
  ['[::1]:5000/app:t', '[::1]:5000/app:t', '[::1]:5000/app:t'],
  // A first component with ':' or '.' is a host; one with uppercase is a host too (splitDockerDomain).
  ['Foo/bar', 'Foo/bar:latest', 'Foo/bar:latest'],
  ['foo:5000/bar', 'foo:5000/bar:latest', 'foo:5000/bar:latest'],
  ['a.b/c', 'a.b/c:latest', 'a.b/c:latest'],
  ['a_b/c-d.e__f', 'docker.io/a_b/c-d.e__f:latest', 'a_b/c-d.e__f:latest'],
  ['app:Tag_1.2-x', 'docker.io/library/app:Tag_1.2-x', 'app:Tag_1.2-x'],
  [`busybox@sha256:${'a'.repeat(64)}`, `docker.io/library/busybox@sha256:${'a'.repeat(64)}`, `busybox@sha256:${'a'.repeat(64)}`],
  [`busybox:1@sha256:${'b'.repeat(64)}`, `docker.io/library/busybox:1@sha256:${'b'.repeat(64)}`, `busybox:1@sha256:${'b'.repeat(64)}`],
  [`localhost:5000/x@sha256:${'c'.repeat(64)}`, `localhost:5000/x@sha256:${'c'.repeat(64)}`, `localhost:5000/x@sha256:${'c'.repeat(64)}`],
];

/** [input, what docker's message says] */
const INVALID: [string, RegExp][] = [
  ['', /invalid reference format/],
  ['Busybox', /repository name \(library\/Busybox\) must be lowercase/],
  ['user/App', /must be lowercase/],
  ['busybox:', /invalid reference format/],
  [':tag', /invalid reference format/],
  ['busybox:tag:more', /invalid reference format/],
  ['busy box', /invalid reference format/],
  ['-busybox', /invalid reference format/],
  ['busybox-', /invalid reference format/],
  ['a//b', /invalid reference format/],
  ['a/b/', /invalid reference format/],
  ['/a', /invalid reference format/],
  [`busybox:${'t'.repeat(129)}`, /invalid reference format/],
  ['busybox@sha256:abc', /invalid reference format/],
  [`busybox@sha256:${'A'.repeat(64)}`, /invalid checksum digest format/],
  [`busybox@sha256:${'a'.repeat(63)}0a`, /invalid checksum digest length/],
  [`busybox@md5:${'a'.repeat(32)}`, /unsupported digest algorithm/],
  ['a'.repeat(64), /cannot specify 64-byte hexadecimal strings/],
  [`${'a'.repeat(250)}/bbbbbb`, /must not be more than 255 characters/],
  ['localhost:port/x', /invalid reference format/],
];

describe('references (distribution/reference)', () => {
  for (const [input, canonical, familiar] of VALID) {
    it(`${JSON.stringify(input)} -> ${canonical}`, () => {
      const ref = withDefaultTag(parseReference(input));
      expect(formatReference(ref)).to.equal(canonical);
      expect(familiarReference(ref)).to.equal(familiar);
    });
  }
  for (const [input, message] of INVALID) {
    it(`refuses ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}...` : input)}`, () => {
      expect(() => parseReference(input)).to.throw(message).with.property('code', 'EREFERENCE');
    });
  }

  it('splits domain, path, tag and digest', () => {
    const d = `sha256:${'d'.repeat(64)}`;
    expect(parseReference(`localhost:5000/a/b:t@${d}`)).to.deep.equal({ domain: 'localhost:5000', path: 'a/b', tag: 't', digest: d });
    expect(parseReference('busybox')).to.deep.equal({ domain: 'docker.io', path: 'library/busybox' });
  });

  it('adds :latest only when neither tag nor digest is given', () => {
    const d = `sha256:${'e'.repeat(64)}`;
    expect(withDefaultTag(parseReference(`x@${d}`)).tag).to.equal(undefined);
    expect(withDefaultTag(parseReference('x:1')).tag).to.equal('1');
  });

  it('recognises image ids', () => {
    expect(parseImageId('f'.repeat(64))).to.equal('f'.repeat(64));
    expect(parseImageId(`sha256:${'0'.repeat(64)}`)).to.equal('0'.repeat(64));
    expect(parseImageId('abc')).to.equal(undefined);
    expect(parseImageId('busybox')).to.equal(undefined);
  });
});
