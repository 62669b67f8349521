import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ArgumentError } from '../../engine/errors.js';
import { parsePointCloud, readPointCloudFile, type PointCloudFormat } from '../../metatransformer/io/pointcloud.js';
import { assertClose, assertFormatError, assertThrows, fixture, fixtureJSON } from '../helpers.js';
import { fuzzReader } from './fuzz.js';

const t = suite('io: pointcloud');
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

interface Expected {
  points: number[];
  normals: number[];
  colors: number[];
}

t('PLY: binary little/big endian and ascii, faces before or after vertices, list properties skipped', async () => {
  const e = await fixtureJSON<Expected>('io/ply_expected.json');
  for (const name of ['binary_le.ply', 'binary_be_faces_first.ply', 'ascii_faces_first.ply']) {
    const cloud = parsePointCloud(await fixture(`io/${name}`), name);
    assert.is(cloud.count, 5, name);
    assertClose(cloud.points, e.points, { atol: 1e-6, what: `${name} points` });
    assertClose(cloud.normals!, e.normals, { atol: 1e-6, what: `${name} normals` });
    assertClose(cloud.colors!, e.colors, { atol: 1e-6, what: `${name} colors` });
  }
  const viaBlob = await readPointCloudFile(new Blob([(await fixture('io/binary_le.ply')).slice()]));
  assert.is(viaBlob.count, 5);
});

t('PLY: minimal ascii with CRLF header, integer coordinates, no optional properties', () => {
  const text = 'ply\r\nformat ascii 1.0\r\nelement vertex 2\r\nproperty int x\r\nproperty int y\r\nproperty int z\r\nelement empty 1000000000\r\nend_header\r\n1 2 3\n4 5 6\n';
  const cloud = parsePointCloud(enc(text));
  assert.equal(Array.from(cloud.points), [1, 2, 3, 4, 5, 6]);
  assert.is(cloud.normals, undefined);
  assert.is(cloud.colors, undefined);
});

t('OFF: plain, NOFF, COFF (int and float colors), CNOFF, comments and glued counts', () => {
  const plain = parsePointCloud(enc('OFF\n# a comment\n3 1 0\n0 0 0\n1 0 0 # trailing\n0 1 0\n3 0 1 2\n'));
  assert.equal(Array.from(plain.points), [0, 0, 0, 1, 0, 0, 0, 1, 0]);
  const glued = parsePointCloud(enc('OFF2 0 0\n1 2 3\n4 5 6\n'));
  assert.equal(Array.from(glued.points), [1, 2, 3, 4, 5, 6]);
  const noff = parsePointCloud(enc('NOFF\n1 0 0\n1 2 3 0 0 1\n'));
  assert.equal(Array.from(noff.normals!), [0, 0, 1]);
  const coff = parsePointCloud(enc('COFF\n2 0 0\n1 2 3 255 0 51 255\n4 5 6 0.5 1.0 0.0\n'));
  assertClose(coff.colors!, [1, 0, 0.2, 0.5, 1, 0]);
  const cnoff = parsePointCloud(enc('CNOFF\n1 0 0\n1 2 3 0 1 0 0 0 255\n'), 'x.off', { format: 'off' });
  assert.equal(Array.from(cnoff.normals!), [0, 1, 0]);
  assert.equal(Array.from(cnoff.colors!), [0, 0, 1]);
});

t('XYZ/CSV: whitespace and comma separated, header optional, ModelNet 6-column normals, columns override', () => {
  const xyz = parsePointCloud(enc('1 2 3\n4 5 6\n'));
  assert.equal(Array.from(xyz.points), [1, 2, 3, 4, 5, 6]);
  const modelnet = parsePointCloud(enc('0.1,0.2,0.3,0,0,1\n0.4,0.5,0.6,1,0,0\n'));
  assertClose(modelnet.normals!, [0, 0, 1, 1, 0, 0]);
  const header = parsePointCloud(enc('x,y,z,red,green,blue,intensity\n1,2,3,255,0,0,9\n'), 'p.csv');
  assert.equal(Array.from(header.colors!), [1, 0, 0]);
  const floatColors = parsePointCloud(enc('x y z r g b\n1 2 3 0.5 0.25 1\n'));
  assert.equal(Array.from(floatColors.colors!), [0.5, 0.25, 1]);
  const lidar = parsePointCloud(enc('// x y z intensity\n1 2 3 77\n'));
  assert.equal(Array.from(lidar.points), [1, 2, 3]);
  const override = parsePointCloud(enc('1 2 3 9 8 7\n'), 'o', { columns: ['x', 'y', 'z', 'r', 'g', 'b'] });
  assert.is(override.normals, undefined);
  assertClose(override.colors!, [9 / 255, 8 / 255, 7 / 255]);
  assert.is(parsePointCloud(enc(''), 'empty', { format: 'xyz' }).count, 0);
});

t('error paths: PLY header and body', () => {
  const head = (body: string, fmt = 'ascii'): string =>
    `ply\nformat ${fmt} 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\n${body}`;
  assertFormatError(() => parsePointCloud(enc('ply\nformat ascii 1.0\n')), /no end_header line/, 0);
  assertFormatError(() => parsePointCloud(enc('ply\nformat ascii 1.0\nend_headerX\n')), /end_header is not followed by a newline/);
  assertFormatError(() => parsePointCloud(enc('xyz\nend_header\n'), 'a', { format: 'ply' }), /first line is not 'ply'/, 0);
  assertFormatError(() => parsePointCloud(enc('ply\nformat binary_middle_endian 1.0\nend_header\n')), /line 2: unsupported PLY format/);
  assertFormatError(() => parsePointCloud(enc('ply\nend_header\n')), /no format line/);
  assertFormatError(() => parsePointCloud(enc('ply\nformat ascii 1.0\nelement vertex -1\nend_header\n')), /line 3: bad element line/);
  assertFormatError(() => parsePointCloud(enc('ply\nformat ascii 1.0\nproperty float x\nend_header\n')), /line 3: property before any element/);
  assertFormatError(() => parsePointCloud(enc(head('property int128 w\nend_header\n'))), /line 7: unknown property type 'int128'/);
  assertFormatError(() => parsePointCloud(enc(head('property list float int f\nend_header\n'))), /list count type 'float' is not an integer type/);
  assertFormatError(() => parsePointCloud(enc(head('property list uchar quad f\nend_header\n'))), /unknown property type 'quad'/);
  assertFormatError(() => parsePointCloud(enc(head('property list uchar\nend_header\n'))), /bad list property line/);
  assertFormatError(() => parsePointCloud(enc(head('property float\nend_header\n'))), /bad property line/);
  assertFormatError(() => parsePointCloud(enc(head('banana\nend_header\n'))), /line 7: unknown PLY header keyword 'banana'/);
  assertFormatError(() => parsePointCloud(enc('ply\nformat ascii 1.0\nelement face 0\nend_header\n')), /no vertex element/);
  assertFormatError(() => parsePointCloud(enc('ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1\n')), /line 3: vertex element has only some of the x\/y\/z/);
  assertFormatError(() => parsePointCloud(enc(head('property float nx\nend_header\n1 2 3 4\n'))), /only some of the normals components/);
  assertFormatError(() => parsePointCloud(enc('ply\nformat ascii 1.0\nelement vertex 1\nproperty list uchar float x\nproperty float y\nproperty float z\nend_header\n')), /vertex property 'x' is a list/);
  assertFormatError(() => parsePointCloud(enc(head('end_header\n1 2\n'))), /line 9: file ends inside element 'vertex' \(property 'z'\)/);
  assertFormatError(() => parsePointCloud(enc(head('end_header\n1 two 3\n'))), /line 8: 'two' is not a number \(property 'y'\)/);
  assertFormatError(() => parsePointCloud(enc(head('element face 1\nproperty list uchar int v\nend_header\n1 2 3\n-1\n'))), /line 11: negative list length -1/);
  assertFormatError(() => parsePointCloud(enc(head('element face 1\nproperty list uchar int v\nend_header\n1 2 3\n1.5\n'))), /'1.5' is not an integer/);
  assertFormatError(() => parsePointCloud(enc(head('end_header\n').replace('vertex 1', 'vertex 999999999'))), /declares 999999999 records, more than the body can hold/);
  // Binary: counts checked against the bytes left before allocating; bodies that end early.
  const bin = (body: number[], fmt = 'binary_little_endian', extra = ''): Uint8Array => new Uint8Array([...enc(head(`${extra}end_header\n`, fmt)), ...body]);
  const hdrLength = enc(head('end_header\n', 'binary_little_endian')).length;
  assertFormatError(() => parsePointCloud(bin(new Array(11).fill(0))), /element 'vertex' declares 1 records of at least 12 bytes, more than the file holds/, hdrLength);
  const withFace = (body: number[]): Uint8Array => bin(body, 'binary_little_endian', 'element face 1\nproperty list uchar int v\n');
  const faceAt = enc(head('element face 1\nproperty list uchar int v\nend_header\n', 'binary_little_endian')).length + 12;
  assertFormatError(() => parsePointCloud(withFace([...new Array(12).fill(0), 3, 0, 0, 0, 0])), /element 'face' record 0 list 'v' \(3 items\) needs 12 bytes/, faceAt + 1);
  const negative = (): Uint8Array => new Uint8Array([...enc(head('element face 1\nproperty list char int v\nend_header\n', 'binary_little_endian')), ...new Array(12).fill(0), 0xff]);
  assertFormatError(() => parsePointCloud(negative()), /negative list length -1/, faceAt - 1); // "char" is one letter shorter than "uchar"
});

t('error paths: OFF and XYZ', () => {
  assertFormatError(() => parsePointCloud(enc('OFF BINARY\n1 0 0\n')), /line 1: binary OFF is not supported/);
  assertFormatError(() => parsePointCloud(enc('4OFF\n1 0 0\n1 2 3 4\n')), /OFF variant '4OFF' is not supported/);
  assertFormatError(() => parsePointCloud(enc('STOFF\n1 0 0\n')), /OFF variant 'STOFF' is not supported/);
  assertFormatError(() => parsePointCloud(enc('hello'), 'h', { format: 'off' }), /not an OFF file/, 0);
  assertFormatError(() => parsePointCloud(enc('OFF junk\n')), /unexpected text after OFF keyword: 'junk'/);
  assertFormatError(() => parsePointCloud(enc('OFF\n')), /ends before the vertex\/face counts/);
  assertFormatError(() => parsePointCloud(enc('OFF\nthree 1 0\n')), /line 2: bad counts line/);
  assertFormatError(() => parsePointCloud(enc('OFF\n5 0 0\n1 2 3\n')), /declares 5 vertices but only 1 lines follow/);
  assertFormatError(() => parsePointCloud(enc('OFF\n1 0 0\n1 2\n')), /line 3: vertex 0 has 2 values, expected 3/);
  assertFormatError(() => parsePointCloud(enc('COFF\n1 0 0\n1 2 3\n')), /expected 6 or 7/);
  assertFormatError(() => parsePointCloud(enc('OFF\n1 0 0\n1 2 x\n')), /line 3: 'x' is not a finite number \(vertex 0\)/);
  assertFormatError(() => parsePointCloud(enc('1 2 3\n4 5\n')), /line 2: 2 fields, expected 3/);
  assertFormatError(() => parsePointCloud(enc('1 2 3\n4 5 nan\n')), /line 2: 'nan' is not a finite number \(column 3\)/);
  assertFormatError(() => parsePointCloud(enc('a,b,c\n1,2,3\n')), /column list has only some of the x\/y\/z components/);
  assertFormatError(() => parsePointCloud(enc('1 2 3\n'), 'c', { columns: ['x', 'y'] }), /3 fields but 2 column names/);
  assertThrows(() => parsePointCloud(enc(''), 'x', { format: 'las' as PointCloudFormat }), ArgumentError);
});

t('fuzz: mutated point clouds parse or throw OmniError', async () => {
  for (const name of ['binary_le.ply', 'binary_be_faces_first.ply', 'ascii_faces_first.ply']) {
    const valid = await fixture(`io/${name}`);
    await fuzzReader(valid, (b) => parsePointCloud(b), { runs: 300 });
  }
  await fuzzReader(enc('COFF\n2 1 0\n1 2 3 255 0 0 255\n4 5 6 0 255 0 255\n2 0 1\n'), (b) => parsePointCloud(b), { runs: 300 });
  await fuzzReader(enc('x,y,z,nx,ny,nz\n1,2,3,0,0,1\n4,5,6,1,0,0\n'), (b) => parsePointCloud(b), { runs: 300 });
});

t.run();
