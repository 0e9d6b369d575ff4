/*
 * Foundation/Foundation.h (declaration-only stand-in) — only the Foundation API that
 * metal_bridge.m uses, declared as in Apple's SDK (NSObject.h, NSString.h, NSData.h,
 * NSValue.h, NSArray.h, NSDictionary.h, NSError.h, NSException.h, NSLock.h, NSURL.h,
 * NSPathUtilities.h, NSProcessInfo.h, NSFileManager.h, NSDate.h). Methods that
 * Apple declares in a category are declared in the same category here. See ../README.md.
 */
#ifndef MB_APPLE_SDK_FOUNDATION_H
#define MB_APPLE_SDK_FOUNDATION_H

#include <Availability.h>
#include <objc/objc.h>
#include <os/availability.h>
#include <stddef.h>
#include <stdint.h>

/* NSObjCRuntime.h */
#if __LP64__
typedef long NSInteger;
typedef unsigned long NSUInteger;
#else
typedef int NSInteger;
typedef unsigned int NSUInteger;
#endif

#define NS_ENUM(_type, _name) \
  enum _name : _type _name;   \
  enum _name : _type
#define NS_OPTIONS(_type, _name) \
  enum _name : _type _name;      \
  enum _name : _type
#define NS_ASSUME_NONNULL_BEGIN _Pragma("clang assume_nonnull begin")
#define NS_ASSUME_NONNULL_END _Pragma("clang assume_nonnull end")
#define NS_RETURNS_RETAINED __attribute__((ns_returns_retained))
#define NS_RETURNS_INNER_POINTER __attribute__((objc_returns_inner_pointer))
#define NS_FORMAT_FUNCTION(F, A) __attribute__((format(__NSString__, F, A)))
#define NS_TYPED_EXTENSIBLE_ENUM __attribute__((swift_wrapper(struct)))
#define FOUNDATION_EXPORT extern

/* CFDate.h (CoreFoundation, included by Foundation). checked: typedef double CFTimeInterval. */
typedef double CFTimeInterval;

/* checked: NSComparisonResult is NS_ENUM(NSInteger) {-1, 0, 1} (NSObjCRuntime.h). */
typedef NS_ENUM(NSInteger, NSComparisonResult) {
  NSOrderedAscending = -1L,
  NSOrderedSame,
  NSOrderedDescending
};

NS_ASSUME_NONNULL_BEGIN

@class NSString;
@class NSError;

/* NSObject.h (objc/NSObject.h) */
@protocol NSObject
- (BOOL)isEqual:(id)object;
- (BOOL)isKindOfClass:(Class)aClass;
@end

__attribute__((objc_root_class))
@interface NSObject<NSObject>
+ (instancetype)new;
+ (instancetype)alloc;
- (instancetype)init;
+ (Class)class;
@end

@protocol NSCopying
- (id)copyWithZone:(nullable struct _NSZone *)zone;
@end

/* NSString.h. checked: NSUTF8StringEncoding = 4. */
typedef NSUInteger NSStringEncoding;
enum {
  NSUTF8StringEncoding = 4,
};

@interface NSString : NSObject <NSCopying>
@property (readonly) NSUInteger length;
@end

@interface NSString (NSStringExtensionMethods)
- (NSComparisonResult)compare:(NSString *)string;
- (NSString *)stringByAppendingString:(NSString *)aString;
@property (nullable, readonly) const char *UTF8String NS_RETURNS_INNER_POINTER;
- (nullable instancetype)initWithBytes:(const void *)bytes
                                length:(NSUInteger)len
                              encoding:(NSStringEncoding)encoding;
+ (nullable instancetype)stringWithUTF8String:(const char *)nullTerminatedCString;
+ (instancetype)stringWithFormat:(NSString *)format, ... NS_FORMAT_FUNCTION(1, 2);
- (NSString *)stringByReplacingOccurrencesOfString:(NSString *)target
                                        withString:(NSString *)replacement
    API_AVAILABLE(macos(10.5));
@property (readonly) long long longLongValue API_AVAILABLE(macos(10.5));
@end

/* NSPathUtilities.h */
@interface NSString (NSStringPathExtensions)
- (NSString *)stringByAppendingPathComponent:(NSString *)str;
@end

@interface NSMutableString : NSString
@end

@interface NSMutableString (NSMutableStringExtensionMethods)
- (void)appendString:(NSString *)aString;
- (void)appendFormat:(NSString *)format, ... NS_FORMAT_FUNCTION(1, 2);
@end

/* NSData.h. checked: NSDataWritingAtomic = 1UL << 0. */
typedef NS_OPTIONS(NSUInteger, NSDataWritingOptions) {
  NSDataWritingAtomic = 1UL << 0,
} API_AVAILABLE(macos(10.4));

@interface NSData : NSObject <NSCopying>
@property (readonly) NSUInteger length;
@property (readonly) const void *bytes NS_RETURNS_INNER_POINTER;
@end

@interface NSData (NSDataCreation)
+ (instancetype)dataWithBytes:(nullable const void *)bytes length:(NSUInteger)length;
+ (nullable instancetype)dataWithContentsOfFile:(NSString *)path;
@end

@interface NSData (NSExtendedData)
- (BOOL)writeToFile:(NSString *)path
            options:(NSDataWritingOptions)writeOptionsMask
              error:(NSError **)errorPtr;
@end

/* NSValue.h */
@interface NSValue : NSObject <NSCopying>
@end

@interface NSNumber : NSValue
@end

@interface NSNumber (NSNumberCreation)
+ (NSNumber *)numberWithLongLong:(long long)value;
@end

/* NSArray.h */
@interface NSArray<__covariant ObjectType> : NSObject <NSCopying>
@property (readonly) NSUInteger count;
- (ObjectType)objectAtIndex:(NSUInteger)index;
@end

/* Array literals (@[ ... ]) compile to this. */
@interface NSArray <ObjectType>(NSArrayCreation)
+ (instancetype)arrayWithObjects:(const ObjectType _Nonnull[_Nonnull])objects count:(NSUInteger)cnt;
@end

@interface NSArray <ObjectType>(NSExtendedArray)
- (NSString *)componentsJoinedByString:(NSString *)separator;
- (NSArray<ObjectType> *)sortedArrayUsingSelector:(SEL)comparator;
@end

@interface NSMutableArray<ObjectType> : NSArray <ObjectType>
- (void)addObject:(ObjectType)anObject;
@end

@interface NSMutableArray <ObjectType>(NSExtendedMutableArray)
- (void)removeAllObjects;
@end

/* NSDictionary.h */
@interface NSDictionary<__covariant KeyType, __covariant ObjectType> : NSObject <NSCopying>
@property (readonly) NSUInteger count;
- (nullable ObjectType)objectForKey:(KeyType)aKey;
@end

@interface NSDictionary <KeyType, ObjectType>(NSExtendedDictionary)
@property (readonly, copy) NSArray<ObjectType> *allValues;
@end

@interface NSMutableDictionary<KeyType, ObjectType> : NSDictionary <KeyType, ObjectType>
- (void)setObject:(ObjectType)anObject forKey:(KeyType<NSCopying>)aKey;
@end

/* NSURL.h (NSURL also adopts NSSecureCoding, not declared here) */
@interface NSURL : NSObject <NSCopying>
+ (NSURL *)fileURLWithPath:(NSString *)path API_AVAILABLE(macos(10.0));
@end

/* NSProcessInfo.h */
@interface NSProcessInfo : NSObject
@property (class, readonly, strong) NSProcessInfo *processInfo;
@property (readonly, copy) NSDictionary<NSString *, NSString *> *environment;
@property (readonly) int processIdentifier;
@property (readonly, copy) NSString *operatingSystemVersionString;
@end

/* NSDate.h. checked: NSTimeInterval is double; timeIntervalSinceReferenceDate is a property. */
typedef double NSTimeInterval;

@interface NSDate : NSObject <NSCopying>
@property (readonly) NSTimeInterval timeIntervalSinceReferenceDate;
@end

/* NSFileManager.h */
typedef NSString *NSFileAttributeKey NS_TYPED_EXTENSIBLE_ENUM;

@interface NSFileManager : NSObject
@property (class, readonly, strong) NSFileManager *defaultManager;
- (BOOL)createDirectoryAtPath:(NSString *)path
    withIntermediateDirectories:(BOOL)createIntermediates
                     attributes:(nullable NSDictionary<NSFileAttributeKey, id> *)attributes
                          error:(NSError **)error API_AVAILABLE(macos(10.5));
- (BOOL)removeItemAtPath:(NSString *)path error:(NSError **)error API_AVAILABLE(macos(10.5));
- (nullable NSDictionary<NSFileAttributeKey, id> *)attributesOfItemAtPath:(NSString *)path
                                                                    error:(NSError **)error
    API_AVAILABLE(macos(10.5));
- (BOOL)fileExistsAtPath:(NSString *)path;
@end

@interface NSDictionary <KeyType, ObjectType>(NSFileAttributes)
- (unsigned long long)fileSize;
- (nullable NSDate *)fileModificationDate;
@end

/* NSError.h */
@interface NSError : NSObject <NSCopying>
@property (readonly, copy) NSString *localizedDescription;
@end

/* NSException.h */
typedef NSString *NSExceptionName NS_TYPED_EXTENSIBLE_ENUM;

@interface NSException : NSObject <NSCopying>
@property (readonly, copy) NSExceptionName name;
@property (nullable, readonly, copy) NSString *reason;
@end

/* NSLock.h */
@protocol NSLocking
- (void)lock;
- (void)unlock;
@end

@interface NSLock : NSObject <NSLocking>
@end

API_AVAILABLE(macos(10.5))
@interface NSCondition : NSObject <NSLocking>
- (void)wait;
- (void)signal;
- (void)broadcast;
@end

NS_ASSUME_NONNULL_END

#endif
