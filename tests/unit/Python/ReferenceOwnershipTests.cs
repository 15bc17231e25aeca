using System.Reflection;
using System.Runtime.CompilerServices;
using Narwhal.Python;

namespace Narwhal.Tests.Python;

/// <summary>
/// The reference types' ownership rules, without an interpreter: a handle here is a made-up
/// address, and no libpython is loaded, so any Py_DecRef these tests provoked would throw
/// (DllNotFoundException) instead of passing silently.
/// </summary>
public class ReferenceOwnershipTests
{
    private const nint Fake = 0x1000;

    [Fact]
    public void An_owned_reference_is_a_ref_struct_so_no_field_collection_or_box_can_copy_it()
    {
        Assert.True(typeof(PyOwned).IsByRefLike);
    }

    [Fact]
    public void Stealing_from_a_using_variable_leaves_nothing_for_its_dispose_to_release()
    {
        nint stolen;
        {
            using var owned = PyOwned.Own(Fake);
            stolen = owned.Steal();
            Assert.True(owned.IsNull);
        } // Dispose runs here: on a copy it would Py_DecRef the fake address and throw.
        Assert.Equal(Fake, stolen);
    }

    [Fact]
    public void Storing_moves_ownership_to_the_heap_object()
    {
        var owned = PyOwned.Own(Fake);
        var stored = owned.Store();
        Assert.True(owned.IsNull);
        owned.Dispose(); // releases nothing: the stored object owns the reference now
        Assert.Equal(Fake, stored.Borrowed.Handle);
        Assert.Equal(Fake, ((PyBorrowed)stored).Handle);
    }

    [Fact]
    public void Borrowing_from_an_owned_reference_does_not_take_ownership()
    {
        var owned = PyOwned.Own(Fake);
        PyBorrowed borrowed = owned;
        Assert.Equal(Fake, borrowed.Handle);
        Assert.Equal(Fake, owned.Steal()); // still the owner's to give away
    }

    [Fact]
    public void A_null_owned_or_stored_reference_releases_nothing()
    {
        default(PyOwned).Dispose();
        new PyStored(0).Dispose();
    }

    [Fact]
    public void A_borrowed_reference_has_nothing_to_release()
    {
        var type = typeof(PyBorrowed);
        Assert.True(type.IsValueType);
        Assert.NotNull(type.GetCustomAttribute<IsReadOnlyAttribute>());
        Assert.False(typeof(IDisposable).IsAssignableFrom(type));
        var methods = type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static)
            .Select(m => m.Name);
        Assert.DoesNotContain(methods, name => name is "Dispose" or "Steal" or "Store" or "DecRef" or "Release");
    }

    [Fact]
    public void A_stored_reference_is_one_shared_owner_without_a_finalizer()
    {
        var type = typeof(PyStored);
        Assert.True(type.IsClass && type.IsSealed);
        // A finalizer would run without the GIL, possibly after Py_FinalizeEx.
        Assert.Null(type.GetMethod("Finalize", BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.DeclaredOnly));
    }

    [Fact]
    public void The_gil_scopes_cannot_outlive_the_method_that_opened_them()
    {
        Assert.True(typeof(Gil.Held).IsByRefLike);
        Assert.True(typeof(Gil.Released).IsByRefLike);
        Assert.True(typeof(Gil.ThreadState).IsByRefLike);
    }
}
